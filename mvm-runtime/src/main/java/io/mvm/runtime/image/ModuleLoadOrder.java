package io.mvm.runtime.image;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Computes the order in which the guest's stage-1 init must {@code insmod} modules, from each
 * module's own {@code depends=}. Debian's point releases change these dependencies (virtio needed
 * nothing in 6.1.0-50 and needs virtio_ring in 6.1.0-56), so the order is never hard-coded.
 */
public final class ModuleLoadOrder {
    private ModuleLoadOrder() {}

    /**
     * @param wanted    modules the guest needs; ones that are built into the kernel are skipped
     * @param available loadable modules shipped with the kernel, by normalised name
     * @param builtin   names of modules compiled into the kernel image
     * @return the modules to load, every module after all of its dependencies
     * @throws ImageBuildException when a module (or a dependency) is neither available nor built
     *                             in, or when dependencies form a cycle
     */
    public static List<KernelModule> resolve(List<String> wanted, Map<String, KernelModule> available, Set<String> builtin) {
        Set<String> done = new LinkedHashSet<>();
        List<KernelModule> order = new ArrayList<>();
        for (String name : wanted) {
            visit(KernelModule.normalise(name), available, builtin, done, new ArrayList<>(), order);
        }
        return List.copyOf(order);
    }

    private static void visit(String name, Map<String, KernelModule> available, Set<String> builtin,
                              Set<String> done, List<String> path, List<KernelModule> order) {
        if (done.contains(name) || builtin.contains(name)) {
            return;
        }
        int seen = path.indexOf(name);
        if (seen >= 0) {
            List<String> cycle = new ArrayList<>(path.subList(seen, path.size()));
            cycle.add(name);
            throw new ImageBuildException("kernel modules depend on each other in a cycle: " + String.join(" -> ", cycle));
        }
        KernelModule module = available.get(name);
        if (module == null) {
            String neededBy = path.isEmpty() ? "the guest image" : "module " + path.getLast();
            throw new ImageBuildException("kernel module " + name + " (needed by " + neededBy
                    + ") is neither shipped with the kernel nor built into it");
        }
        path.add(name);
        for (String dependency : module.depends()) {
            visit(dependency, available, builtin, done, path, order);
        }
        path.removeLast();
        done.add(name);
        order.add(module);
    }
}
