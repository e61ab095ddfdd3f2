package io.mvm.runtime.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * An unpacked Debian kernel package: the kernel image, the loadable modules (plain, .xz, .zst or
 * .gz, whatever this kernel build uses) and {@code modules.builtin}. The package ships no
 * modules.dep, so dependencies come from each module's own .modinfo.
 */
public final class KernelTree {
    private final String kernelVersion;
    private final Path vmlinuz;
    private final Map<String, Path> moduleFiles;
    private final Set<String> builtin;
    private final Map<String, byte[]> decompressed = new HashMap<>();

    private KernelTree(String kernelVersion, Path vmlinuz, Map<String, Path> moduleFiles, Set<String> builtin) {
        this.kernelVersion = kernelVersion;
        this.vmlinuz = vmlinuz;
        this.moduleFiles = moduleFiles;
        this.builtin = builtin;
    }

    public static KernelTree open(Path packageRoot, String kernelVersion) {
        Path vmlinuz = packageRoot.resolve("boot").resolve("vmlinuz-" + kernelVersion);
        if (!Files.isRegularFile(vmlinuz)) {
            throw new ImageBuildException("kernel package in " + packageRoot + " has no boot/vmlinuz-" + kernelVersion);
        }
        Path modulesDir = Stream.of("lib/modules/", "usr/lib/modules/")
                .map(prefix -> packageRoot.resolve(prefix + kernelVersion))
                .filter(Files::isDirectory)
                .findFirst()
                .orElseThrow(() -> new ImageBuildException("kernel package in " + packageRoot + " has no lib/modules/" + kernelVersion));
        try {
            Map<String, Path> files;
            try (Stream<Path> walk = Files.walk(modulesDir.resolve("kernel"))) {
                files = walk.filter(Files::isRegularFile)
                        .filter(p -> p.getFileName().toString().matches(".*\\.ko(\\.xz|\\.zst|\\.gz)?"))
                        .collect(Collectors.toMap(p -> KernelModule.nameOfFile(p.getFileName().toString()), p -> p, (a, b) -> a));
            }
            Path builtinList = modulesDir.resolve("modules.builtin");
            Set<String> builtin = Files.isRegularFile(builtinList)
                    ? Files.readAllLines(builtinList).stream().filter(l -> !l.isBlank()).map(KernelModule::nameOfFile)
                            .collect(Collectors.toUnmodifiableSet())
                    : Set.of();
            return new KernelTree(kernelVersion, vmlinuz, Map.copyOf(files), builtin);
        } catch (IOException e) {
            throw new ImageBuildException("cannot read kernel modules in " + modulesDir + ": " + e.getMessage(), e);
        }
    }

    public String kernelVersion() {
        return kernelVersion;
    }

    public Path vmlinuz() {
        return vmlinuz;
    }

    public Set<String> builtin() {
        return builtin;
    }

    public boolean isBuiltin(String module) {
        return builtin.contains(KernelModule.normalise(module));
    }

    /** Modules to insmod for {@code wanted}, dependencies first; built-in ones are left out. */
    public List<KernelModule> loadOrder(List<String> wanted) {
        Map<String, KernelModule> reachable = new HashMap<>();
        collect(wanted, reachable);
        return ModuleLoadOrder.resolve(wanted, reachable, builtin);
    }

    private void collect(List<String> names, Map<String, KernelModule> into) {
        for (String raw : names) {
            String name = KernelModule.normalise(raw);
            if (into.containsKey(name) || builtin.contains(name) || !moduleFiles.containsKey(name)) {
                continue; // missing ones are reported by ModuleLoadOrder with who needed them
            }
            KernelModule module = readModule(name);
            into.put(name, module);
            collect(module.depends(), into);
        }
    }

    private KernelModule readModule(String name) {
        Path file = moduleFiles.get(name);
        byte[] bytes = decompressedBytes(name);
        byte[] modinfo = ElfFile.parse(bytes, file.toString()).section(".modinfo")
                .orElseThrow(() -> new ImageBuildException(file + " has no .modinfo section"));
        return KernelModule.fromModinfo(modinfo, name, file);
    }

    /** The module as the kernel's init_module() wants it: uncompressed ELF. */
    public byte[] decompressedBytes(String moduleName) {
        String name = KernelModule.normalise(moduleName);
        return decompressed.computeIfAbsent(name, n -> {
            Path file = moduleFiles.get(n);
            if (file == null) {
                throw new ImageBuildException("kernel " + kernelVersion + " ships no module " + n);
            }
            String fileName = file.getFileName().toString();
            try {
                if (fileName.endsWith(".xz")) {
                    return HostProgram.of("xz", "-dc", file.toString()).timeout(Duration.ofMinutes(1)).runForBytes();
                } else if (fileName.endsWith(".zst")) {
                    return HostProgram.of("zstd", "-dcq", file.toString()).timeout(Duration.ofMinutes(1)).runForBytes();
                } else if (fileName.endsWith(".gz")) {
                    try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
                        return in.readAllBytes();
                    }
                }
                return Files.readAllBytes(file);
            } catch (IOException e) {
                throw new ImageBuildException("cannot read module " + file + ": " + e.getMessage(), e);
            }
        });
    }
}
