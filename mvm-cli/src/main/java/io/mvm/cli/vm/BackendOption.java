package io.mvm.cli.vm;

import io.mvm.model.MvmException;
import java.util.Arrays;
import java.util.Locale;
import picocli.CommandLine.Option;

/** {@code --backend qemu|firecracker} for the local VM commands; QEMU unless asked otherwise. */
public final class BackendOption {

    public enum Kind {
        QEMU, FIRECRACKER;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Kind parse(String text) {
            for (Kind kind : values()) {
                if (kind.wireName().equals(text)) {
                    return kind;
                }
            }
            throw MvmException.invalid("unknown backend '" + text + "': expected one of "
                    + Arrays.stream(values()).map(Kind::wireName).toList());
        }
    }

    @Option(names = "--backend", defaultValue = "qemu", paramLabel = "qemu|firecracker",
            description = "Hypervisor backend (default ${DEFAULT-VALUE}). Firecracker needs a firecracker binary on PATH and a working /dev/kvm.")
    String backend = "qemu";

    public Kind kind() {
        return Kind.parse(backend);
    }
}
