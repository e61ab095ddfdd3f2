package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class SqlitePagingIT extends PagingContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.SQLITE;
    }
}
