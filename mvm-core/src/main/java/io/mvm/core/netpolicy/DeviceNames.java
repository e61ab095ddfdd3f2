package io.mvm.core.netpolicy;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Host-side device names. Linux allows 15 characters (IFNAMSIZ - 1). Every name starts with
 * {@code mv} so a leftover device is recognisable at a glance: {@code mvb<netId>} for a tenant's
 * bridge, {@code mvt<11 hex>} for an instance's tap (a hash of the instance id, because ids are up
 * to 63 characters).
 */
public final class DeviceNames {
    public static final int MAX_LENGTH = 15;
    public static final String BRIDGE_PREFIX = "mvb";
    public static final String PORT_PREFIX = "mvt";
    private static final Pattern PORT_NAME = Pattern.compile("[A-Za-z0-9_]{1,15}");
    private static final Pattern INTERFACE_NAME = Pattern.compile("[A-Za-z0-9_.@-]{1,15}");

    private DeviceNames() {}

    /**
     * The alias mvm writes on every device it creates or adopts for a table. Drift detection and
     * cleanup look only at devices carrying their own table's alias, so two fleets (or two test
     * runs) on one host never remove each other's devices.
     */
    public static String ownerAlias(String tableName) {
        return "mvm:" + tableName;
    }

    public static String bridge(int netId) {
        if (netId < 0) {
            throw MvmException.invalid("network id must not be negative, got " + netId);
        }
        return BRIDGE_PREFIX + netId;
    }

    public static String tap(InstanceId instance) {
        byte[] hash = MacAddress.sha256("mvm-tap/" + instance.value());
        return PORT_PREFIX + HexFormat.of().formatHex(hash).substring(0, 11);
    }

    /**
     * Port names also name an nft chain ({@code port_<name>}), whose identifiers cannot hold '.',
     * '@' or '-', so ports are held to the stricter alphabet.
     */
    public static String requirePortName(String name) {
        if (name == null || !PORT_NAME.matcher(name).matches()) {
            throw MvmException.invalid("invalid port name '" + name + "': use 1-15 letters, digits or '_'");
        }
        return name;
    }

    /** Checks a name given from outside (an uplink, a port) before it reaches ip or an nft rule. */
    public static String requireValid(String name, String what) {
        if (name == null || !INTERFACE_NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw MvmException.invalid("invalid " + what + " name '" + name
                    + "': use 1-15 letters, digits, '_', '.', '@' or '-'");
        }
        return name;
    }
}
