package io.mvm.core.network;

import io.mvm.model.MvmException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An IPv4 network such as 10.240.0.0/12. The address is normalised: host bits must be zero. */
public record Ipv4Cidr(int base, int prefix) {
    private static final Pattern FORM = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");

    public Ipv4Cidr {
        if (prefix < 0 || prefix > 32) {
            throw MvmException.invalid("prefix length must be 0-32, got " + prefix);
        }
        if ((base & ~mask(prefix)) != 0) {
            throw MvmException.invalid("network address " + Ipv4.format(base) + "/" + prefix
                    + " has host bits set; did you mean " + Ipv4.format(base & mask(prefix)) + "/" + prefix + "?");
        }
    }

    public static Ipv4Cidr parse(String text) {
        Matcher m = text == null ? null : FORM.matcher(text.strip());
        if (m == null || !m.matches()) {
            throw MvmException.invalid("invalid CIDR '" + text + "': expected a.b.c.d/len");
        }
        int prefix = Integer.parseInt(m.group(5));
        return new Ipv4Cidr(Ipv4.parse(text.strip().substring(0, text.strip().indexOf('/'))), prefix);
    }

    static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    /** Number of addresses, as a long because a /0 has 2^32. */
    public long size() {
        return 1L << (32 - prefix);
    }

    public boolean contains(int address) {
        return (address & mask(prefix)) == base;
    }

    public boolean overlaps(Ipv4Cidr other) {
        int common = Math.min(prefix, other.prefix);
        return (base & mask(common)) == (other.base & mask(common));
    }

    /** The address at {@code offset} from the network address. */
    public int address(long offset) {
        if (offset < 0 || offset >= size()) {
            throw new IllegalArgumentException("offset " + offset + " outside " + this);
        }
        return (int) (Integer.toUnsignedLong(base) + offset);
    }

    @Override
    public String toString() {
        return Ipv4.format(base) + "/" + prefix;
    }
}
