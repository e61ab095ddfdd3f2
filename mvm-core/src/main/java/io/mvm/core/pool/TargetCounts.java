package io.mvm.core.pool;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.DesiredCounts;
import io.mvm.model.MvmException;

/**
 * How many of a pool's instance records should want each state. {@code stopped} instances are
 * kept (with their data drives) but excluded from the running/warm/sleeping counts users scale;
 * the pool materializes {@link #total()} records.
 */
public record TargetCounts(int running, int warm, int sleeping, int stopped) {
    public TargetCounts {
        if (running < 0 || warm < 0 || sleeping < 0 || stopped < 0) {
            throw MvmException.invalid("counts must not be negative, got running=" + running + " warm=" + warm
                    + " sleeping=" + sleeping + " stopped=" + stopped);
        }
        // Summed in long: four ints near Integer.MAX_VALUE must be refused, not wrap to a small
        // total that slips past the pool-size and quota checks.
        long total = (long) running + warm + sleeping + stopped;
        if (total > Integer.MAX_VALUE) {
            throw MvmException.invalid("counts add up to " + total + " instances, more than a pool can hold");
        }
    }

    public static TargetCounts of(DesiredCounts counts, int stopped) {
        return new TargetCounts(counts.running(), counts.warm(), counts.sleeping(), stopped);
    }

    public DesiredCounts active() {
        return new DesiredCounts(running, warm, sleeping);
    }

    public int total() {
        return running + warm + sleeping + stopped;
    }

    public int of(DesiredState state) {
        return switch (state) {
            case RUNNING -> running;
            case WARM -> warm;
            case SLEEPING -> sleeping;
            case STOPPED -> stopped;
            case DESTROYED -> 0;
        };
    }

    /** These counts with one instance moved from {@code from} to {@code to} (a per-instance action). */
    public TargetCounts move(DesiredState from, DesiredState to) {
        return minus(from).plus(to);
    }

    public TargetCounts minus(DesiredState state) {
        return add(state, -1);
    }

    public TargetCounts plus(DesiredState state) {
        return add(state, 1);
    }

    private TargetCounts add(DesiredState state, int delta) {
        return switch (state) {
            case RUNNING -> new TargetCounts(running + delta, warm, sleeping, stopped);
            case WARM -> new TargetCounts(running, warm + delta, sleeping, stopped);
            case SLEEPING -> new TargetCounts(running, warm, sleeping + delta, stopped);
            case STOPPED -> new TargetCounts(running, warm, sleeping, stopped + delta);
            case DESTROYED -> this;
        };
    }
}
