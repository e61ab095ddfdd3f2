package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class PostgresFleetIT extends FleetContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.POSTGRESQL;
    }
}
