package io.mvm.model;

import java.util.regex.Pattern;

/** A pool's name within its tenant; same alphabet as tenant ids. */
public record PoolName(String value) implements Comparable<PoolName> {
    private static final Pattern VALID = Pattern.compile("[a-z0-9][a-z0-9-]{0,30}");

    public PoolName {
        if (value == null || !VALID.matcher(value).matches()) {
            throw MvmException.invalid("invalid pool name '" + value
                    + "': use 1-31 lower-case letters, digits or '-', starting with a letter or digit");
        }
    }

    public static PoolName of(String value) {
        return new PoolName(value);
    }

    @Override
    public int compareTo(PoolName o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
