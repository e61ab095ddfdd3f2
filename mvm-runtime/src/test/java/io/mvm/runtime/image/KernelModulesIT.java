package io.mvm.runtime.image;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.VirtioSerialGuestChannel;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.testing.TestMicroVm;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The module resolver on the real .modinfo of a Debian 6.1 cloud kernel, where (unlike 6.12)
 * virtio and virtio_ring are loadable modules, cross-checked with the host's modinfo; then an
 * image with that kernel boots.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KernelModulesIT {
    private String packageName;
    private KernelTree kernel;

    @BeforeAll
    void fetchKernel() {
        HostCapabilities.requireVmHost();
        DebianKernelSource source = new DebianKernelSource(HostCapabilities.testDataDir().resolve("cache"), ProgressListener.NONE);
        packageName = DebianKernelSource.newest(source.availablePackages().stream()
                .filter(p -> p.startsWith("linux-image-6.1.0-")).toList()).orElseThrow();
        kernel = KernelTree.open(source.fetch(packageName), DebianKernelSource.kernelVersionOf(packageName));
    }

    @Test
    void loadOrderFollowsTheRealDependsOfEachModule() {
        List<KernelModule> order = kernel.loadOrder(ImageBuilder.GUEST_MODULES);
        List<String> names = order.stream().map(KernelModule::name).toList();
        assertThat(names).contains("virtio", "virtio_ring", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_console",
                "failover", "net_failover");
        assertThat(names).doesNotContain("ext4"); // built in on Debian's cloud kernels
        assertThat(kernel.isBuiltin("ext4")).isTrue();
        for (KernelModule module : order) {
            for (String dependency : module.depends()) {
                assertThat(names.indexOf(dependency)).as("%s before %s", dependency, module.name())
                        .isBetween(0, names.indexOf(module.name()) - 1);
            }
        }
    }

    @Test
    void ourModinfoReadingAgreesWithKmod() {
        for (KernelModule module : kernel.loadOrder(ImageBuilder.GUEST_MODULES)) {
            String kmod = HostProgram.of("modinfo", "-F", "depends", module.file().toString()).run().strip();
            List<String> expected = kmod.isEmpty() ? List.of() : Arrays.stream(kmod.split(",")).map(KernelModule::normalise).toList();
            assertThat(module.depends()).as(module.name()).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    @Test
    void anImageWithThisKernelBootsAndAnswers() throws Exception {
        GuestImage image = new ImageBuilder(HostCapabilities.testDataDir(), Optional.of(packageName), InstantSource.system(),
                ProgressListener.NONE).ensure("it-kernel-6.1");
        assertThat(image.kernelVersion()).isEqualTo(kernel.kernelVersion());
        Path work = TestMicroVm.newWorkDir("k61");
        try (TestMicroVm vm = TestMicroVm.boot(image, work, "mvm.hostname=k61", List.of());
             VirtioSerialGuestChannel channel = VirtioSerialGuestChannel.connect(vm.agentSocket())) {
            vm.awaitReady(Duration.ofSeconds(120));
            GuestChannel.Health health = channel.health(Duration.ofSeconds(60));
            assertThat(health.kernel()).isEqualTo(kernel.kernelVersion());
            assertThat(health.hostname()).isEqualTo("k61");
        } finally {
            TestMicroVm.deleteTree(work);
        }
    }
}
