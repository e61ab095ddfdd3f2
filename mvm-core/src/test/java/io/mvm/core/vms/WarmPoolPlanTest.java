package io.mvm.core.vms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.vms.WarmPoolPlan.Budget;
import io.mvm.core.vms.WarmPoolPlan.Target;
import io.mvm.core.vms.WarmPoolPlan.Want;
import java.util.List;
import org.junit.jupiter.api.Test;

class WarmPoolPlanTest {
    static final Budget ROOMY = new Budget(64, 65536);

    @Test
    void jobsSharingASpecShareOnePoolSizedByTheLargestMin() {
        var plan = WarmPoolPlan.plan(List.of(new Want("aa", 1, 2, 1, 256), new Want("aa", 3, 5, 1, 256),
                new Want("bb", 2, 2, 2, 512)), ROOMY);
        assertThat(plan).containsExactly(new Target("aa", 3, 3, 5, 1, 256), new Target("bb", 2, 2, 2, 2, 512));
    }

    @Test
    void specsWithoutAWarmPoolGetNone() {
        assertThat(WarmPoolPlan.plan(List.of(new Want("aa", 0, 0, 1, 256)), ROOMY)).isEmpty();
    }

    @Test
    void theBudgetCutsPoolsInSpecOrderAndSaysSo() {
        var plan = WarmPoolPlan.plan(List.of(new Want("bb", 3, 3, 1, 256), new Want("aa", 2, 2, 1, 256)),
                new Budget(3, 65536));
        assertThat(plan).containsExactly(new Target("aa", 2, 2, 2, 1, 256), new Target("bb", 1, 3, 3, 1, 256));
        assertThat(plan.get(1).cutByBudget()).isTrue();
        assertThat(plan.get(0).cutByBudget()).isFalse();

        var byMemory = WarmPoolPlan.plan(List.of(new Want("aa", 4, 4, 1, 256)), new Budget(64, 600));
        assertThat(byMemory).containsExactly(new Target("aa", 2, 4, 4, 1, 256));
        assertThat(WarmPoolPlan.plan(List.of(new Want("aa", 4, 4, 1, 256)), new Budget(0, 0)).getFirst().size())
                .isZero();
    }

    @Test
    void refusesImpossibleSizes() {
        assertThatThrownBy(() -> new Want("aa", 3, 2, 1, 256)).hasMessageContaining("min <= max");
        assertThatThrownBy(() -> new Budget(-1, 0)).hasMessageContaining("negative");
    }
}
