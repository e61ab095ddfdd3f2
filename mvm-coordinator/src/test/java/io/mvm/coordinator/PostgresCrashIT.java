package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class PostgresCrashIT extends CrashSafetyContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.POSTGRESQL;
    }
}
