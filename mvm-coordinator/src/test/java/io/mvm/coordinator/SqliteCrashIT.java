package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class SqliteCrashIT extends CrashSafetyContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.SQLITE;
    }
}
