package io.mvm.core.netpolicy;

/**
 * What kind of device connects an instance to its tenant's bridge. mvm creates taps itself (QEMU
 * attaches to them); a veth's host end is created by whoever owns the other end (a network
 * namespace standing in for a guest), and mvm only enslaves and filters it.
 */
public enum PortKind {
    TAP,
    VETH
}
