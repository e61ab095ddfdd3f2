package io.mvm.core.vms;

import io.mvm.model.MvmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How many warm VMs to keep per spec hash (pure). Every job asking for a warm pool contributes its
 * {@code min}; jobs sharing a spec share one pool, sized by the largest {@code min}. All warm VMs
 * together stay within the cluster's warm budget (they count against no tenant's quota): pools are
 * filled in spec-hash order until the budget runs out, and a pool cut short says so.
 */
public final class WarmPoolPlan {
    private WarmPoolPlan() {}

    /** One job's wish: a warm pool of {@code min} VMs of this spec (its resources per VM). */
    public record Want(String specHash, int min, int max, int vcpus, long memoryMib) {
        public Want {
            if (min < 0 || max < min) {
                throw MvmException.invalid("warm pool sizes must satisfy 0 <= min <= max, got " + min + "/" + max);
            }
        }
    }

    /** A cluster-wide cap on what warm VMs may hold. */
    public record Budget(int vcpus, long memoryMib) {
        public Budget {
            if (vcpus < 0 || memoryMib < 0) {
                throw MvmException.invalid("a warm budget cannot be negative");
            }
        }
    }

    /**
     * @param size   warm VMs to keep
     * @param wanted what the jobs asked for (the largest min among them)
     * @param max    the largest max among them
     */
    public record Target(String specHash, int size, int wanted, int max, int vcpus, long memoryMib) {
        public boolean cutByBudget() {
            return size < wanted;
        }
    }

    public static List<Target> plan(List<Want> wants, Budget budget) {
        Map<String, Want> bySpec = new TreeMap<>();
        for (Want w : wants) {
            if (w.min() == 0) {
                continue;
            }
            bySpec.merge(w.specHash(), w, (a, b) -> new Want(a.specHash(), Math.max(a.min(), b.min()),
                    Math.max(a.max(), b.max()), a.vcpus(), a.memoryMib()));
        }
        int vcpusLeft = budget.vcpus();
        long memoryLeft = budget.memoryMib();
        List<Target> out = new ArrayList<>();
        for (Want w : bySpec.values()) {
            int fits = Math.min(w.min(), Math.min(w.vcpus() == 0 ? w.min() : vcpusLeft / w.vcpus(),
                    (int) Math.min(Integer.MAX_VALUE, w.memoryMib() == 0 ? w.min() : memoryLeft / w.memoryMib())));
            fits = Math.max(0, fits);
            vcpusLeft -= fits * w.vcpus();
            memoryLeft -= fits * w.memoryMib();
            out.add(new Target(w.specHash(), fits, w.min(), w.max(), w.vcpus(), w.memoryMib()));
        }
        out.sort(Comparator.comparing(Target::specHash));
        return List.copyOf(out);
    }
}
