package io.mvm.core.netpolicy;

import io.mvm.model.MvmException;

/** An IPv4 address held as its 32 bits, so subnet arithmetic is plain integer arithmetic. */
public record Ipv4Address(int bits) implements Comparable<Ipv4Address> {

    public static Ipv4Address parse(String text) {
        if (text == null) {
            throw MvmException.invalid("IPv4 address is missing");
        }
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            throw MvmException.invalid("invalid IPv4 address '" + text + "': expected A.B.C.D");
        }
        int bits = 0;
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)) {
                throw MvmException.invalid("invalid IPv4 address '" + text + "': expected A.B.C.D");
            }
            int octet = Integer.parseInt(part);
            if (octet > 255) {
                throw MvmException.invalid("invalid IPv4 address '" + text + "': octet " + octet + " is above 255");
            }
            bits = (bits << 8) | octet;
        }
        return new Ipv4Address(bits);
    }

    public Ipv4Address plus(int offset) {
        return new Ipv4Address(bits + offset);
    }

    @Override
    public int compareTo(Ipv4Address o) {
        return Integer.compareUnsigned(bits, o.bits);
    }

    @Override
    public String toString() {
        return ((bits >>> 24) & 0xff) + "." + ((bits >>> 16) & 0xff) + "." + ((bits >>> 8) & 0xff) + "." + (bits & 0xff);
    }
}
