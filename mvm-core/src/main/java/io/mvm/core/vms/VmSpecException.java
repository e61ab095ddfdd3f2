package io.mvm.core.vms;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.List;
import java.util.Map;

/** A spec with problems; every problem is listed (in {@code details.errors}), not only the first. */
public final class VmSpecException extends MvmException {
    private final List<String> problems;

    public VmSpecException(List<String> problems) {
        super(ErrorCategory.INVALID_ARGUMENT, summary(problems), Map.of("errors", List.copyOf(problems)), null);
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }

    private static String summary(List<String> problems) {
        return problems.size() == 1 ? "invalid spec: " + problems.getFirst()
                : "invalid spec (" + problems.size() + " problems): " + String.join("; ", problems);
    }
}
