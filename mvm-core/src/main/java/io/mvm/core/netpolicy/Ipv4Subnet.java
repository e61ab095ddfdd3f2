package io.mvm.core.netpolicy;

import io.mvm.model.MvmException;

/**
 * An IPv4 network in CIDR form. The constructor insists on the network address (no host bits), so
 * two spellings of one subnet cannot both appear in a desired state.
 */
public record Ipv4Subnet(Ipv4Address network, int prefixLength) {

    public Ipv4Subnet {
        if (prefixLength < 0 || prefixLength > 32) {
            throw MvmException.invalid("invalid prefix length /" + prefixLength + ": expected 0..32");
        }
        if ((network.bits() & ~mask(prefixLength)) != 0) {
            throw MvmException.invalid("invalid subnet " + network + "/" + prefixLength
                    + ": host bits are set (did you mean " + new Ipv4Address(network.bits() & mask(prefixLength))
                    + "/" + prefixLength + "?)");
        }
    }

    public static Ipv4Subnet parse(String text) {
        if (text == null) {
            throw MvmException.invalid("subnet is missing; expected A.B.C.D/P");
        }
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw MvmException.invalid("invalid subnet '" + text + "': expected A.B.C.D/P");
        }
        String prefix = text.substring(slash + 1);
        if (prefix.isEmpty() || prefix.length() > 2 || !prefix.chars().allMatch(Character::isDigit)) {
            throw MvmException.invalid("invalid subnet '" + text + "': expected A.B.C.D/P");
        }
        return new Ipv4Subnet(Ipv4Address.parse(text.substring(0, slash)), Integer.parseInt(prefix));
    }

    private static int mask(int prefixLength) {
        return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
    }

    public boolean contains(Ipv4Address address) {
        return (address.bits() & mask(prefixLength)) == network.bits();
    }

    public boolean overlaps(Ipv4Subnet other) {
        int shorter = Math.min(prefixLength, other.prefixLength);
        return (network.bits() & mask(shorter)) == (other.network.bits() & mask(shorter));
    }

    public Ipv4Address broadcast() {
        return new Ipv4Address(network.bits() | ~mask(prefixLength));
    }

    /** The first usable address; mvm gives it to the tenant's bridge, the guests' default gateway. */
    public Ipv4Address firstHost() {
        return network.plus(1);
    }

    /** True for addresses a guest may hold: inside, and neither network, bridge nor broadcast address. */
    public boolean isGuestAddress(Ipv4Address address) {
        return contains(address) && !address.equals(network) && !address.equals(firstHost())
                && !address.equals(broadcast());
    }

    @Override
    public String toString() {
        return network + "/" + prefixLength;
    }
}
