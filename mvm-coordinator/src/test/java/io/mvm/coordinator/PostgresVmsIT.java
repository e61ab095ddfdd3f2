package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class PostgresVmsIT extends VmsContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.POSTGRESQL;
    }
}
