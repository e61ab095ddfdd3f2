package io.mvm.model;

/** How many of a pool's instances should be in each stable state. */
public record DesiredCounts(int running, int warm, int sleeping) {
    public DesiredCounts {
        if (running < 0 || warm < 0 || sleeping < 0) {
            throw MvmException.invalid("desired counts must not be negative, got running=" + running
                    + " warm=" + warm + " sleeping=" + sleeping);
        }
    }

    public int total() {
        return running + warm + sleeping;
    }
}
