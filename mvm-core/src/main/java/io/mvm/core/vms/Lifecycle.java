package io.mvm.core.vms;

import java.util.Locale;
import java.util.Optional;

/** How a {@code /vms} job's VM lives: kept running ({@code service}, {@code daemon}) or run once ({@code job}). */
public enum Lifecycle {
    SERVICE,
    JOB,
    DAEMON;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Lifecycle> parse(String text) {
        for (Lifecycle l : values()) {
            if (l.wireName().equals(text)) {
                return Optional.of(l);
            }
        }
        return Optional.empty();
    }
}
