package io.mvm.runtime.qemu;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where a VM's guest RAM lives when it is not anonymous memory, persisted as {@code memory.json}
 * in the VM directory (beside, not inside, the handle, so the handle's shape stays as it is):
 *
 * <ul>
 *   <li>{@code shared}: a file of the VM's own, mapped shared ({@code share=on}). Its RAM survives
 *       the VMM, so a sleep saves only the device state (x-ignore-shared) and a template can be
 *       saved as a golden snapshot without copying RAM.
 *   <li>not shared: a clone, whose RAM is a private copy-on-write mapping of a golden snapshot's
 *       file ({@code share=off}): the file is never written, unchanged pages are shared by every
 *       clone, the clone's own pages are anonymous memory. Sleeping one therefore has to save its
 *       RAM in the stream; its wake restores into a file of its own and it is {@code shared} from
 *       then on.
 * </ul>
 *
 * @param golden the snapshot directory a clone maps its RAM from, else null
 */
record MemoryBacking(int schemaVersion, Path file, boolean shared, Path golden) {
    static final int SCHEMA_VERSION = 1;
    static final String FILE_NAME = "memory.json";
    /** A VM's own RAM file, in its directory. */
    static final String OWN_RAM = "memory.ram";
    private static final String BACKEND_ID = "mvm-ram";
    private static final ObjectMapper JSON = new ObjectMapper()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    static MemoryBacking ownFile(Path vmDir) {
        return new MemoryBacking(SCHEMA_VERSION, vmDir.resolve(OWN_RAM), true, null);
    }

    static MemoryBacking cloneOf(Path goldenMemory, Path goldenDir) {
        return new MemoryBacking(SCHEMA_VERSION, goldenMemory, false, goldenDir);
    }

    static Optional<MemoryBacking> read(Path vmDir) {
        Path file = vmDir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(file.toFile(), MemoryBacking.class));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    void write(Path vmDir) {
        try {
            AtomicFile.write(vmDir.resolve(FILE_NAME), JSON.writeValueAsBytes(this), PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot write " + FILE_NAME + ": " + e.getMessage(), e);
        }
    }

    static void forget(Path vmDir) {
        try {
            Files.deleteIfExists(vmDir.resolve(FILE_NAME));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot remove " + FILE_NAME + ": " + e.getMessage(), e);
        }
    }

    /** Creates the VM's own RAM file empty and owner-only before QEMU sizes it: it will hold guest memory. */
    static void createEmpty(Path ramFile) {
        try {
            Files.deleteIfExists(ramFile);
            Files.createFile(ramFile, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot create " + ramFile + ": " + e.getMessage(), e);
        }
    }

    /**
     * The command line of {@link QemuLaunch} with guest RAM from {@link #file()}: the machine's RAM
     * becomes the memory backend {@code mvm-ram} (size = {@code -m}), and with {@code incomingDefer}
     * QEMU waits for a {@code migrate-incoming} over QMP, which lets capabilities such as
     * x-ignore-shared be set on this side first. {@code kernelCommandLine}, when given, replaces
     * {@code -append} (a clone launches with its template's line: the restored guest parsed that one).
     */
    List<String> arguments(List<String> base, long memoryMib, boolean incomingDefer, Optional<String> kernelCommandLine) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < base.size(); i++) {
            String arg = base.get(i);
            if (arg.equals("-incoming")) {
                i++; // replaced by "defer" below
                continue;
            }
            if (arg.equals("-pidfile") && incomingDefer) {
                out.add("-incoming");
                out.add("defer");
            }
            if (arg.equals("-append") && kernelCommandLine.isPresent()) {
                out.add(arg);
                out.add(kernelCommandLine.get());
                i++;
                continue;
            }
            out.add(arg);
            if (arg.equals("-M")) {
                out.add(base.get(++i) + ",memory-backend=" + BACKEND_ID);
                out.add("-object");
                out.add("memory-backend-file,id=" + BACKEND_ID + ",size=" + memoryMib + "M,mem-path="
                        + QemuLaunch.option(file) + ",share=" + (shared ? "on" : "off"));
            }
        }
        return List.copyOf(out);
    }
}
