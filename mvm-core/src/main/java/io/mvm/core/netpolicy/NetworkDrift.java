package io.mvm.core.netpolicy;

import java.util.List;

/**
 * One difference between the desired and the live host network. Each names what is wrong in words
 * an operator can act on ({@link #describe()}) and a stable {@link #kind()} for JSON and tests.
 */
public sealed interface NetworkDrift {

    String describe();

    /** True for drift in mvm's nftables tables, which only replacing the ruleset repairs. */
    default boolean inRuleset() {
        return switch (this) {
            case TableMissing d -> true;
            case ChainDiffers d -> true;
            case RuleMissing d -> true;
            case RuleExtra d -> true;
            case RulesOutOfOrder d -> true;
            case MissingBridge d -> false;
            case ExtraDevice d -> false;
            case MissingPort d -> false;
            case StrayPort d -> false;
            case WrongMaster d -> false;
            case DeviceDown d -> false;
            case WrongAddresses d -> false;
            case MissingVxlan d -> false;
            case VxlanDiffers d -> false;
            case ForwardingMissing d -> false;
            case ForwardingExtra d -> false;
        };
    }

    default String kind() {
        return switch (this) {
            case MissingBridge d -> "missing-bridge";
            case ExtraDevice d -> "extra-device";
            case MissingPort d -> "missing-port";
            case StrayPort d -> "stray-port";
            case WrongMaster d -> "wrong-master";
            case DeviceDown d -> "device-down";
            case WrongAddresses d -> "wrong-addresses";
            case TableMissing d -> "table-missing";
            case ChainDiffers d -> "chain-differs";
            case RuleMissing d -> "rule-missing";
            case RuleExtra d -> "rule-extra";
            case RulesOutOfOrder d -> "rules-out-of-order";
            case MissingVxlan d -> "missing-vxlan";
            case VxlanDiffers d -> "vxlan-differs";
            case ForwardingMissing d -> "forwarding-missing";
            case ForwardingExtra d -> "forwarding-extra";
        };
    }

    record MissingBridge(String bridge, String tenant) implements NetworkDrift {
        public String describe() {
            return "bridge " + bridge + " of tenant " + tenant + " is missing";
        }
    }

    /** A device this table owns (by alias) that the desired state no longer has. */
    record ExtraDevice(String device, String deviceKind) implements NetworkDrift {
        public String describe() {
            return deviceKind + " " + device + " is not in the desired state";
        }
    }

    record MissingPort(String port, String instance) implements NetworkDrift {
        public String describe() {
            return "port " + port + " of instance " + instance + " is missing";
        }
    }

    /** A device on a tenant bridge that belongs to no instance. */
    record StrayPort(String port, String bridge) implements NetworkDrift {
        public String describe() {
            return "bridge " + bridge + " has port " + port + ", which belongs to no instance";
        }
    }

    record WrongMaster(String port, String expected, String actual) implements NetworkDrift {
        public String describe() {
            return "port " + port + " is on " + (actual.isEmpty() ? "no bridge" : actual) + ", expected " + expected;
        }
    }

    record DeviceDown(String device) implements NetworkDrift {
        public String describe() {
            return "device " + device + " is down";
        }
    }

    record WrongAddresses(String bridge, String expected, List<String> actual) implements NetworkDrift {
        public WrongAddresses {
            actual = List.copyOf(actual);
        }

        public String describe() {
            return "bridge " + bridge + " has IPv4 addresses " + actual + ", expected [" + expected + "]";
        }
    }

    record TableMissing(String family, String table) implements NetworkDrift {
        public String describe() {
            return "nftables table " + family + " " + table + " is missing";
        }
    }

    /** A chain missing, unexpected, or with another hook line. */
    record ChainDiffers(String family, String chain, String detail) implements NetworkDrift {
        public String describe() {
            return "chain " + family + " " + chain + ": " + detail;
        }
    }

    record RuleMissing(String family, String chain, String rule) implements NetworkDrift {
        public String describe() {
            return "rule missing in " + family + " " + chain + ": " + rule;
        }
    }

    record RuleExtra(String family, String chain, String rule) implements NetworkDrift {
        public String describe() {
            return "unexpected rule in " + family + " " + chain + ": " + rule;
        }
    }

    record RulesOutOfOrder(String family, String chain) implements NetworkDrift {
        public String describe() {
            return "rules of " + family + " " + chain + " are in the wrong order";
        }
    }

    /** A tenant with instances on other hosts has no VXLAN device (or the name is taken by another kind). */
    record MissingVxlan(String device, String tenant) implements NetworkDrift {
        public String describe() {
            return "vxlan device " + device + " of tenant " + tenant + " is missing";
        }
    }

    /** The VXLAN device exists but with another VNI, local address, port, MTU or learning/proxy setting. */
    record VxlanDiffers(String device, String detail) implements NetworkDrift {
        public String describe() {
            return "vxlan device " + device + ": " + detail;
        }
    }

    /** A static FDB or neighbour entry the coordinator's placement asks for is not on the device. */
    record ForwardingMissing(String device, String entry) implements NetworkDrift {
        public String describe() {
            return "vxlan device " + device + " lacks " + entry;
        }
    }

    /** An FDB or neighbour entry on the device that no remote instance accounts for (stale or injected). */
    record ForwardingExtra(String device, String entry) implements NetworkDrift {
        public String describe() {
            return "vxlan device " + device + " has unexpected " + entry;
        }
    }
}
