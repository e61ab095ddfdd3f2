package io.mvm.model;

/** A pool addressed as {@code tenant/name}, the form users type. */
public record PoolRef(TenantId tenant, PoolName name) implements Comparable<PoolRef> {

    public static PoolRef parse(String text) {
        if (text == null) {
            throw MvmException.invalid("pool reference is missing; expected TENANT/POOL");
        }
        int slash = text.indexOf('/');
        if (slash < 0 || slash != text.lastIndexOf('/')) {
            throw MvmException.invalid("invalid pool reference '" + text + "': expected TENANT/POOL");
        }
        return new PoolRef(TenantId.of(text.substring(0, slash)), PoolName.of(text.substring(slash + 1)));
    }

    @Override
    public int compareTo(PoolRef o) {
        int c = tenant.compareTo(o.tenant);
        return c != 0 ? c : name.compareTo(o.name);
    }

    @Override
    public String toString() {
        return tenant + "/" + name;
    }
}
