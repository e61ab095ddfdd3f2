package io.mvm.core.netpolicy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Real nft validation: {@code nft -c -f} (check mode: parsed and checked by the kernel, nothing
 * committed) must accept every rendered shape, and a broken script must be refused so the test is
 * known to be able to fail.
 */
class NftCheckIT {

    @BeforeAll
    static void requireNft() {
        boolean capable = "root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/sbin/nft"));
        if (Boolean.getBoolean("mvm.requireHostCapabilities")) {
            assertThat(capable).as("root and /usr/sbin/nft are required (mvm.requireHostCapabilities=true)").isTrue();
        }
        Assumptions.assumeTrue(capable, "needs root and /usr/sbin/nft");
    }

    private static Result check(String script) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("/usr/sbin/nft", "-c", "-f", "-").redirectErrorStream(true).start();
        p.getOutputStream().write(script.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("nft -c did not finish");
        }
        return new Result(p.exitValue(), out);
    }

    record Result(int exit, String output) {}

    @Test
    void nftAcceptsEveryRenderedShape() throws Exception {
        List<HostNetworkSpec> shapes = SampleSpecs.shapes();
        for (HostNetworkSpec shape : shapes) {
            Result r = check(RulesetRenderer.render(shape).replaceScript());
            assertThat(r.exit()).as("nft -c output for %s:%n%s", shape.tenants(), r.output()).isZero();
        }
        assertThat(check(NftRuleset.deleteScript("mvm_check")).exit()).isZero();
    }

    @Test
    void nftRefusesABrokenScript() throws Exception {
        String broken = RulesetRenderer.render(SampleSpecs.twoTenants()).replaceScript()
                .replace("counter drop", "counter dorp");
        assertThat(check(broken).exit()).isNotZero();
    }
}
