package io.mvm.model;

import java.util.regex.Pattern;

/** A host's id in the fleet. */
public record NodeId(String value) implements Comparable<NodeId> {
    private static final Pattern VALID = Pattern.compile("[a-z0-9][a-z0-9.-]{0,62}");

    public NodeId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw MvmException.invalid("invalid node id '" + value
                    + "': use 1-63 lower-case letters, digits, '.' or '-', starting with a letter or digit");
        }
    }

    public static NodeId of(String value) {
        return new NodeId(value);
    }

    @Override
    public int compareTo(NodeId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
