package io.mvm.runtime.hostnet;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Host networking tests need root, iproute2, nftables and ping; skip without them, fail when CI demands them. */
final class HostCapabilities {
    private HostCapabilities() {}

    static void requireHostNetworking() {
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean tools = Files.isExecutable(Path.of("/usr/sbin/nft")) && Files.isExecutable(Path.of("/usr/bin/ping"))
                && (Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")))
                && (Files.isExecutable(Path.of("/usr/bin/busybox")) || Files.isExecutable(Path.of("/bin/busybox")));
        String why = !root ? "host networking tests need root" : "host networking tests need ip, nft, ping and busybox";
        if (Boolean.getBoolean("mvm.requireHostCapabilities")) {
            assertThat(root && tools).as(why + " (mvm.requireHostCapabilities=true)").isTrue();
        }
        Assumptions.assumeTrue(root && tools, why);
    }
}
