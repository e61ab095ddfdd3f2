package io.mvm.core.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import java.util.EnumSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

class InstanceLifecycleTest {

    @ParameterizedTest(name = "{0} on desired {1} -> {2}")
    @CsvSource({
        "START, STOPPED, RUNNING",
        "START, RUNNING, RUNNING",
        "START, WARM, CONFLICT",
        "START, SLEEPING, CONFLICT",
        "STOP, RUNNING, STOPPED",
        "STOP, WARM, STOPPED",
        "STOP, SLEEPING, STOPPED",
        "STOP, STOPPED, STOPPED",
        "WARM, RUNNING, WARM",
        "WARM, WARM, WARM",
        "WARM, SLEEPING, CONFLICT",
        "WARM, STOPPED, CONFLICT",
        "SLEEP, RUNNING, SLEEPING",
        "SLEEP, WARM, SLEEPING",
        "SLEEP, SLEEPING, SLEEPING",
        "SLEEP, STOPPED, CONFLICT",
        "WAKE, WARM, RUNNING",
        "WAKE, SLEEPING, RUNNING",
        "WAKE, RUNNING, RUNNING",
        "WAKE, STOPPED, CONFLICT",
        "START, DESTROYED, CONFLICT",
        "STOP, DESTROYED, CONFLICT",
        "WAKE, DESTROYED, CONFLICT",
    })
    void actionTable(InstanceAction action, DesiredState current, String expected) {
        if (expected.equals("CONFLICT")) {
            assertThatThrownBy(() -> InstanceLifecycle.apply(action, current, InstanceState.PENDING))
                    .isInstanceOf(MvmException.class)
                    .extracting(e -> ((MvmException) e).category())
                    .isEqualTo(ErrorCategory.CONFLICT);
        } else {
            assertThat(InstanceLifecycle.apply(action, current, InstanceState.PENDING))
                    .isEqualTo(DesiredState.valueOf(expected));
        }
    }

    @ParameterizedTest
    @EnumSource(InstanceAction.class)
    void noActionOnAnInstanceObservedDestroyed(InstanceAction action) {
        assertThatThrownBy(() -> InstanceLifecycle.apply(action, DesiredState.RUNNING, InstanceState.DESTROYED))
                .hasMessageContaining("being destroyed");
    }

    @ParameterizedTest(name = "{0} -> {1}: {2}")
    @CsvSource({
        "PENDING, CREATING, true",
        "PENDING, RUNNING, false",
        "CREATING, RUNNING, true",
        "RUNNING, PAUSING, true",
        "RUNNING, WARM, false",
        "PAUSING, WARM, true",
        "WARM, RUNNING, true",
        "WARM, SNAPSHOTTING, true",
        "SNAPSHOTTING, SLEEPING, true",
        "SLEEPING, RUNNING, false",
        "SLEEPING, WAKING, true",
        "WAKING, RUNNING, true",
        "RUNNING, STOPPING, true",
        "STOPPING, STOPPED, true",
        "STOPPED, RUNNING, false",
        "STOPPED, CREATING, true",
        "FAILED, CREATING, true",
        "RUNNING, UNKNOWN, true",
        "UNKNOWN, SLEEPING, true",
        "UNKNOWN, PENDING, false",
        "DESTROYED, CREATING, false",
        "DESTROYED, UNKNOWN, false",
        "RUNNING, RUNNING, true",
    })
    void observedTable(InstanceState from, InstanceState to, boolean allowed) {
        assertThat(InstanceLifecycle.canObserve(from, to)).isEqualTo(allowed);
    }

    @ParameterizedTest
    @EnumSource(value = InstanceState.class, names = "DESTROYED", mode = EnumSource.Mode.EXCLUDE)
    void everyLiveStateCanBeDestroyedAndDestroyedIsTerminal(InstanceState from) {
        assertThat(InstanceLifecycle.canObserve(from, InstanceState.DESTROYED)).isTrue();
        EnumSet<InstanceState> others = EnumSet.complementOf(EnumSet.of(InstanceState.DESTROYED));
        others.forEach(to -> assertThat(InstanceLifecycle.canObserve(InstanceState.DESTROYED, to)).isFalse());
    }
}
