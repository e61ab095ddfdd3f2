package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class SqliteVmsIT extends VmsContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.SQLITE;
    }
}
