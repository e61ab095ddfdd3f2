package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class SqliteApiIT extends ApiContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.SQLITE;
    }
}
