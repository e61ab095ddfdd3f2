package io.mvm.runtime.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ModuleLoadOrderTest {

    private static Map<String, KernelModule> modules(String... specs) {
        Map<String, KernelModule> map = new LinkedHashMap<>();
        for (String spec : specs) {
            String[] parts = spec.split(":", -1);
            List<String> deps = parts[1].isEmpty() ? List.of() : Arrays.asList(parts[1].split(","));
            KernelModule m = new KernelModule(parts[0], deps, Path.of(parts[0] + ".ko"));
            map.put(m.name(), m);
        }
        return map;
    }

    private static List<String> names(List<KernelModule> order) {
        return order.stream().map(KernelModule::name).toList();
    }

    @Test
    void dependenciesComeFirstWhateverOrderTheyAreAskedFor() {
        // Debian 6.1.0-56: virtio needs virtio_ring (in 6.1.0-50 it needed nothing).
        Map<String, KernelModule> available = modules("virtio:virtio_ring", "virtio_ring:", "virtio_mmio:virtio,virtio_ring",
                "virtio_blk:virtio,virtio_ring", "virtio_net:virtio_ring,virtio,net_failover", "failover:",
                "net_failover:failover", "virtio_console:virtio,virtio_ring");
        List<String> order = names(ModuleLoadOrder.resolve(
                List.of("virtio_net", "virtio_blk", "virtio", "virtio_mmio", "virtio_console"), available, Set.of()));
        assertThat(order).containsExactly("virtio_ring", "virtio", "failover", "net_failover", "virtio_net", "virtio_blk",
                "virtio_mmio", "virtio_console");
        for (KernelModule m : available.values()) {
            for (String dep : m.depends()) {
                assertThat(order.indexOf(dep)).as("%s before %s", dep, m.name()).isLessThan(order.indexOf(m.name()));
            }
        }
    }

    @Test
    void theSameListWithTheOlderDependenciesGivesTheOlderOrder() {
        Map<String, KernelModule> available = modules("virtio:", "virtio_ring:", "virtio_mmio:virtio,virtio_ring");
        assertThat(names(ModuleLoadOrder.resolve(List.of("virtio", "virtio_ring", "virtio_mmio"), available, Set.of())))
                .containsExactly("virtio", "virtio_ring", "virtio_mmio");
    }

    @Test
    void builtInModulesAreSkippedEvenWhenOthersDependOnThem() {
        Map<String, KernelModule> available = modules("virtio_mmio:virtio,virtio_ring", "virtio_blk:virtio,virtio_ring");
        assertThat(names(ModuleLoadOrder.resolve(List.of("virtio", "virtio_ring", "virtio_mmio", "virtio_blk"), available,
                Set.of("virtio", "virtio_ring")))).containsExactly("virtio_mmio", "virtio_blk");
    }

    @Test
    void dashesAndUnderscoresAreTheSameModuleName() {
        Map<String, KernelModule> available = modules("virtio-rng:virtio", "virtio:");
        assertThat(names(ModuleLoadOrder.resolve(List.of("virtio_rng"), available, Set.of()))).containsExactly("virtio", "virtio_rng");
    }

    @Test
    void aMissingDependencyIsAClearError() {
        Map<String, KernelModule> available = modules("virtio_blk:virtio,virtio_ring", "virtio:");
        assertThatThrownBy(() -> ModuleLoadOrder.resolve(List.of("virtio_blk"), available, Set.of()))
                .isInstanceOf(ImageBuildException.class)
                .hasMessage("kernel module virtio_ring (needed by module virtio_blk) is neither shipped with the kernel nor built into it");
    }

    @Test
    void aMissingWantedModuleIsAClearError() {
        assertThatThrownBy(() -> ModuleLoadOrder.resolve(List.of("ext4"), Map.of(), Set.of()))
                .isInstanceOf(ImageBuildException.class)
                .hasMessageContaining("kernel module ext4 (needed by the guest image)");
    }

    @Test
    void aCycleIsAClearErrorNamingIt() {
        Map<String, KernelModule> available = modules("a:b", "b:c", "c:a");
        assertThatThrownBy(() -> ModuleLoadOrder.resolve(List.of("a"), available, Set.of()))
                .isInstanceOf(ImageBuildException.class)
                .hasMessage("kernel modules depend on each other in a cycle: a -> b -> c -> a");
    }

    @Test
    void aSelfDependencyIsACycle() {
        assertThatThrownBy(() -> ModuleLoadOrder.resolve(List.of("a"), modules("a:a"), Set.of()))
                .hasMessageContaining("cycle: a -> a");
    }

    @Test
    void modinfoSectionIsParsed() {
        byte[] modinfo = ("license=GPL\0depends=virtio_ring,virtio\0retpoline=Y\0intree=Y\0name=virtio_mmio\0"
                + "vermagic=6.1.0-56-cloud-amd64 SMP mod_unload modversions \0").getBytes(StandardCharsets.UTF_8);
        KernelModule module = KernelModule.fromModinfo(modinfo, "fallback", Path.of("x.ko"));
        assertThat(module.name()).isEqualTo("virtio_mmio");
        assertThat(module.depends()).containsExactly("virtio_ring", "virtio");
    }

    @Test
    void modinfoWithEmptyDependsAndNoNameUsesTheFileName() {
        byte[] modinfo = "depends=\0license=GPL\0".getBytes(StandardCharsets.UTF_8);
        KernelModule module = KernelModule.fromModinfo(modinfo, KernelModule.nameOfFile("kernel/drivers/x/virtio-rng.ko.xz"), Path.of("x"));
        assertThat(module.name()).isEqualTo("virtio_rng");
        assertThat(module.depends()).isEmpty();
    }
}
