package io.mvm.core.network;

import io.mvm.model.MvmException;

/** Text form of IPv4 addresses, which mvm keeps as plain ints. */
public final class Ipv4 {
    private Ipv4() {}

    public static int parse(String text) {
        String[] parts = text == null ? new String[0] : text.split("\\.", -1);
        if (parts.length != 4) {
            throw MvmException.invalid("invalid IPv4 address '" + text + "'");
        }
        int value = 0;
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)) {
                throw MvmException.invalid("invalid IPv4 address '" + text + "'");
            }
            int octet = Integer.parseInt(part);
            if (octet > 255) {
                throw MvmException.invalid("invalid IPv4 address '" + text + "': octet " + octet + " > 255");
            }
            value = (value << 8) | octet;
        }
        return value;
    }

    public static String format(int address) {
        return ((address >>> 24) & 0xff) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "."
                + (address & 0xff);
    }
}
