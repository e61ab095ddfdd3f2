package io.mvm.model;

import java.util.regex.Pattern;

/** A tenant's id: 1-31 chars, lower-case letters, digits and dashes, starting with a letter or digit. */
public record TenantId(String value) implements Comparable<TenantId> {
    private static final Pattern VALID = Pattern.compile("[a-z0-9][a-z0-9-]{0,30}");

    public TenantId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw MvmException.invalid("invalid tenant id '" + value
                    + "': use 1-31 lower-case letters, digits or '-', starting with a letter or digit");
        }
    }

    /**
     * The owner of warm VMs while they wait to be claimed: no tenant at all. Its instances get a tap
     * on no bridge, which reaches nothing, and no address; a claim hands the VM to a real tenant.
     * No user can create a tenant with this id.
     */
    public static final TenantId STANDBY = new TenantId("mvm-standby");

    public boolean standby() {
        return equals(STANDBY);
    }

    public static TenantId of(String value) {
        return new TenantId(value);
    }

    @Override
    public int compareTo(TenantId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
