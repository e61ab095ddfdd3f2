package io.mvm.model;

import java.util.regex.Pattern;

/**
 * An instance's id, unique across the fleet. Short enough to derive host-side names (tap devices
 * have a 15-character limit) from a prefix of it.
 */
public record InstanceId(String value) implements Comparable<InstanceId> {
    private static final Pattern VALID = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

    public InstanceId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw MvmException.invalid("invalid instance id '" + value
                    + "': use 1-63 lower-case letters, digits or '-', starting with a letter or digit");
        }
    }

    public static InstanceId of(String value) {
        return new InstanceId(value);
    }

    @Override
    public int compareTo(InstanceId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
