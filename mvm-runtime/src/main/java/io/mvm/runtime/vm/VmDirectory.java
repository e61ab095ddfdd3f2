package io.mvm.runtime.vm;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.files.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One VM's directory, {@code <dataDir>/vms/<name>/}: {@code handle.json} (how to find its VMM),
 * {@code spec.json} (how to relaunch it), {@code secrets.json} (mode 0600) and whatever the backend
 * keeps there (sockets, serial log, drives, snapshot). Every file here is written atomically.
 */
public record VmDirectory(Path path) implements HandleJournal {
    static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT);

    public Path handleFile() {
        return path.resolve("handle.json");
    }

    public Path specFile() {
        return path.resolve("spec.json");
    }

    public Path secretsFile() {
        return path.resolve("secrets.json");
    }

    public String name() {
        return path.getFileName().toString();
    }

    @Override
    public void record(VmHandle handle) {
        writeJson(handleFile(), handle, "rw-r--r--");
    }

    public Optional<VmHandle> handle() {
        return readJson(handleFile(), VmHandle.class).map(h -> {
            if (h.schemaVersion() != VmHandle.SCHEMA_VERSION) {
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "handle of VM " + name() + " has schema version "
                        + h.schemaVersion() + ", this mvm reads " + VmHandle.SCHEMA_VERSION);
            }
            return h;
        });
    }

    /** Owner-only: the spec holds the workload's env and command, which users may not expect to be public. */
    public void saveDefinition(VmDefinition definition) {
        writeJson(specFile(), definition, "rw-------");
    }

    public Optional<VmDefinition> definition() {
        return readJson(specFile(), VmDefinition.class);
    }

    /** Secret values; never logged, never part of spec.json. */
    public void saveSecrets(Map<String, String> secrets) {
        writeJson(secretsFile(), new TreeMap<>(secrets), "rw-------");
    }

    public Map<String, String> secrets() {
        if (!Files.isRegularFile(secretsFile())) {
            return Map.of();
        }
        try {
            return JSON.readValue(secretsFile().toFile(), new com.fasterxml.jackson.core.type.TypeReference<TreeMap<String, String>>() {});
        } catch (IOException e) {
            // Parser messages quote the input: say where, never what.
            throw new MvmException(ErrorCategory.INTERNAL, "cannot read " + secretsFile() + " (damaged secrets file)");
        }
    }

    private static void writeJson(Path file, Object value, String mode) {
        try {
            AtomicFile.write(file, JSON.writeValueAsBytes(value), PosixFilePermissions.fromString(mode));
        } catch (IOException e) {
            throw MvmException.internal("cannot encode " + file.getFileName() + ": " + e.getMessage(), e);
        }
    }

    private static <T> Optional<T> readJson(Path file, Class<T> type) {
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(file.toFile(), type));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
