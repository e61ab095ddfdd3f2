package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/** An Ethernet address in the lower-case colon form that nft and iproute2 print. */
public record MacAddress(String value) {
    private static final Pattern VALID = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");

    public MacAddress {
        if (value == null || !VALID.matcher(value).matches()) {
            throw MvmException.invalid("invalid MAC address '" + value + "': expected six lower-case hex pairs like 02:00:00:00:00:01");
        }
        if ((Integer.parseInt(value.substring(0, 2), 16) & 1) != 0) {
            throw MvmException.invalid("invalid MAC address '" + value + "': a multicast address cannot belong to a guest");
        }
    }

    public static MacAddress parse(String text) {
        return new MacAddress(text == null ? null : text.toLowerCase(Locale.ROOT));
    }

    /**
     * A stable MAC for an instance: 46 bits of SHA-256 over its id, with the locally administered
     * bit set and the multicast bit clear, so it never collides with a vendor address and the same
     * instance gets the same MAC on every boot and every host (snapshots restore with their NIC).
     */
    public static MacAddress forInstance(InstanceId instance) {
        byte[] hash = sha256("mvm-mac/" + instance.value());
        hash[0] = (byte) ((hash[0] & 0xfc) | 0x02);
        return new MacAddress(HexFormat.ofDelimiter(":").formatHex(hash, 0, 6));
    }

    static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    @Override
    public String toString() {
        return value;
    }
}
