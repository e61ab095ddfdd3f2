package io.mvm.agent.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.image.GuestImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A pool naming a template boots that template's current revision on the node, or says why it cannot. */
class TemplateInstanceSpecTest {
    @TempDir
    Path dataDir;

    private InstanceSpec spec(Optional<String> template, List<String> cmd) {
        return new InstanceSpec(InstanceId.of("w1"), TenantId.of("acme"), PoolName.of("workers"), Role.WORKER, 1, 256, 0,
                new NetworkSpec("10.0.0.2", 24, "10.0.0.1", Optional.empty(), 1), cmd, Map.of("A", "1"), Map.of(),
                Map.of(), "r1-web", template);
    }

    private LocalInstanceRuntime runtime() throws Exception {
        Path image = Files.createDirectories(dataDir.resolve("image"));
        for (var f : List.of("vmlinuz", "initramfs.cpio.gz", "rootfs.ext4")) {
            Files.writeString(image.resolve(f), "x");
        }
        var guestImage = new GuestImage("default", image.resolve("vmlinuz"), image.resolve("initramfs.cpio.gz"),
                image.resolve("rootfs.ext4"), "6.1", "console=ttyS0");
        return new LocalInstanceRuntime(null, guestImage, new AgentNetwork.None(), dataDir);
    }

    @Test
    void withoutATemplateTheDefaultImageBootsThePoolsCommand() throws Exception {
        var vm = runtime().vmSpec(spec(Optional.empty(), List.of("echo", "hi there")), Optional.empty());
        assertThat(vm.image().name()).isEqualTo("default");
        assertThat(vm.cmd()).isEqualTo("'echo' 'hi there'");
    }

    @Test
    void aTemplateWithoutABuildOnThisNodeIsAClearNotFound() throws Exception {
        var runtime = runtime();
        assertThatThrownBy(() -> runtime.vmSpec(spec(Optional.of("web"), List.of()), Optional.empty()))
                .isInstanceOfSatisfying(MvmException.class, e -> {
                    assertThat(e.category()).isEqualTo(ErrorCategory.NOT_FOUND);
                    assertThat(e.getMessage()).contains("template web has no intact built revision on this host")
                            .contains("mvm template build");
                });
    }
}
