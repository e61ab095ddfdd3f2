package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class SqliteConcurrencyIT extends ConcurrencyContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.SQLITE;
    }
}
