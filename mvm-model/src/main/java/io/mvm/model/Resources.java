package io.mvm.model;

/** vCPUs and memory, as asked for by a spec or offered by a node. */
public record Resources(int vcpus, long memoryMib) {
    public static final Resources ZERO = new Resources(0, 0);

    public Resources {
        if (vcpus < 0) {
            throw MvmException.invalid("vcpus must not be negative, got " + vcpus);
        }
        if (memoryMib < 0) {
            throw MvmException.invalid("memory must not be negative, got " + memoryMib + " MiB");
        }
    }

    public Resources plus(Resources o) {
        return new Resources(vcpus + o.vcpus, memoryMib + o.memoryMib);
    }

    public Resources minus(Resources o) {
        return new Resources(vcpus - o.vcpus, memoryMib - o.memoryMib);
    }

    public Resources times(int n) {
        return new Resources(vcpus * n, memoryMib * n);
    }

    public boolean fitsIn(Resources capacity) {
        return vcpus <= capacity.vcpus && memoryMib <= capacity.memoryMib;
    }
}
