package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class PostgresConcurrencyIT extends ConcurrencyContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.POSTGRESQL;
    }
}
