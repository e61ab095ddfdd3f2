package io.mvm.runtime.image;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One loadable kernel module of the guest kernel, as its own {@code .modinfo} section describes it.
 *
 * @param name    the module name, normalised (dashes become underscores, as the kernel does)
 * @param depends modules that must be loaded first ({@code depends=}), normalised
 * @param file    the module file in the unpacked kernel package (possibly compressed)
 */
public record KernelModule(String name, List<String> depends, Path file) {
    public KernelModule {
        name = normalise(name);
        depends = depends.stream().map(KernelModule::normalise).toList();
    }

    /** Module names are compared the way the kernel compares them: '-' and '_' are the same. */
    public static String normalise(String moduleName) {
        return moduleName.trim().replace('-', '_');
    }

    /** The module name a file such as {@code kernel/drivers/char/hw_random/virtio-rng.ko.xz} provides. */
    public static String nameOfFile(String fileName) {
        String base = fileName.substring(fileName.lastIndexOf('/') + 1);
        int ko = base.toLowerCase(Locale.ROOT).indexOf(".ko");
        return normalise(ko < 0 ? base : base.substring(0, ko));
    }

    /**
     * Reads a module's identity from the NUL-separated {@code key=value} strings of its
     * {@code .modinfo} section; {@code fallbackName} is used when the section has no {@code name=}
     * (older kernels).
     */
    public static KernelModule fromModinfo(byte[] modinfo, String fallbackName, Path file) {
        String name = null;
        List<String> depends = new ArrayList<>();
        for (String entry : new String(modinfo, StandardCharsets.UTF_8).split("\0")) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String key = entry.substring(0, eq);
            String value = entry.substring(eq + 1);
            switch (key) {
                case "name" -> name = value;
                case "depends" -> Arrays.stream(value.split(","))
                        .map(String::trim)
                        .filter(s -> !s.isEmpty())
                        .forEach(depends::add);
                default -> { }
            }
        }
        return new KernelModule(name == null ? fallbackName : name, depends, file);
    }
}
