package io.mvm.model;

/** How many of a pool's instances should be in each stable state. */
public record DesiredCounts(int running, int warm, int sleeping) {
    public DesiredCounts {
        if (running < 0 || warm < 0 || sleeping < 0) {
            throw MvmException.invalid("desired counts must not be negative, got running=" + running
                    + " warm=" + warm + " sleeping=" + sleeping);
        }
        if ((long) running + warm + sleeping > Integer.MAX_VALUE) {
            throw MvmException.invalid("desired counts add up to " + ((long) running + warm + sleeping) + " instances, more than a pool can hold");
        }
    }

    public int total() {
        return running + warm + sleeping;
    }
}
