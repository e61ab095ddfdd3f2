package io.mvm.runtime.backend;

import io.mvm.model.MvmException;
import java.util.regex.Pattern;

/**
 * A network interface handed over by the networking layer: the tap already exists on the host;
 * the backend only attaches it and passes the address to the guest. A warm VM standing by for a
 * tenant has a NIC without an address ({@code ipv4} null): the address arrives with its claim.
 */
public record NicSpec(String tap, String mac, String ipv4, int prefixLength, String gateway) {
    private static final Pattern TAP = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
    private static final Pattern MAC = Pattern.compile("([0-9a-f]{2}:){5}[0-9a-f]{2}");
    private static final Pattern IPV4 = Pattern.compile(
            "((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

    public NicSpec {
        if (tap == null || !TAP.matcher(tap).matches()) {
            throw MvmException.invalid("invalid tap name '" + tap + "': 1-15 characters of letters, digits, '_', '.', '-'");
        }
        if (mac == null || !MAC.matcher(mac).matches()) {
            throw MvmException.invalid("invalid MAC address '" + mac + "': expected six lower-case hex pairs like 52:54:00:12:34:56");
        }
        if ((Integer.parseInt(mac.substring(0, 2), 16) & 1) != 0) {
            throw MvmException.invalid("MAC address " + mac + " is a multicast address");
        }
        if (ipv4 != null && !IPV4.matcher(ipv4).matches()) {
            throw MvmException.invalid("invalid IPv4 address '" + ipv4 + "'");
        }
        if (ipv4 != null && (prefixLength < 1 || prefixLength > 30)) {
            throw MvmException.invalid("prefix length must be between 1 and 30, got " + prefixLength);
        }
        if (gateway != null && !IPV4.matcher(gateway).matches()) {
            throw MvmException.invalid("invalid gateway address '" + gateway + "'");
        }
    }

    /** A NIC for a VM standing by: attached, but with no address until a claim gives it one. */
    public static NicSpec standby(String tap, String mac) {
        return new NicSpec(tap, mac, null, 0, null);
    }

    public boolean addressed() {
        return ipv4 != null;
    }

    public String cidr() {
        if (ipv4 == null) {
            throw MvmException.precondition("NIC " + tap + " has no address");
        }
        return ipv4 + "/" + prefixLength;
    }
}
