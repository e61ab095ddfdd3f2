package io.mvm.core.placement;

import io.mvm.model.MvmException;

/** vCPUs, memory and disk: what a node can give out and what an instance asks for. */
public record Capacity(int vcpus, long memoryMib, long diskMib) {
    public static final Capacity ZERO = new Capacity(0, 0, 0);

    public Capacity {
        if (vcpus < 0 || memoryMib < 0 || diskMib < 0) {
            throw MvmException.invalid("capacity must not be negative, got " + vcpus + " vCPUs, "
                    + memoryMib + " MiB memory, " + diskMib + " MiB disk");
        }
    }

    public Capacity plus(Capacity o) {
        return new Capacity(vcpus + o.vcpus, memoryMib + o.memoryMib, diskMib + o.diskMib);
    }

    /** Saturates at zero: a node that is already over-committed simply has nothing free. */
    public Capacity minusOrZero(Capacity o) {
        return new Capacity(Math.max(0, vcpus - o.vcpus), Math.max(0, memoryMib - o.memoryMib),
                Math.max(0, diskMib - o.diskMib));
    }

    public boolean fitsIn(Capacity available) {
        return vcpus <= available.vcpus && memoryMib <= available.memoryMib && diskMib <= available.diskMib;
    }

    public String describe() {
        return vcpus + " vCPUs, " + memoryMib + " MiB memory, " + diskMib + " MiB disk";
    }
}
