package io.mvm.model;

import java.util.Locale;

/** How a host executes guest code: hardware virtualisation or QEMU's software emulation. */
public enum Accelerator {
    KVM,
    TCG;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Accelerator parse(String text) {
        return switch (text == null ? "" : text.toLowerCase(Locale.ROOT)) {
            case "kvm" -> KVM;
            case "tcg" -> TCG;
            default -> throw MvmException.invalid("unknown accelerator '" + text + "': expected kvm or tcg");
        };
    }

    @Override
    public String toString() {
        return wireName();
    }
}
