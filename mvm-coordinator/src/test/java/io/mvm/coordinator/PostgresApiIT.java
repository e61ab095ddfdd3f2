package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class PostgresApiIT extends ApiContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.POSTGRESQL;
    }
}
