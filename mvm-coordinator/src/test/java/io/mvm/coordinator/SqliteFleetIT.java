package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class SqliteFleetIT extends FleetContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.SQLITE;
    }
}
