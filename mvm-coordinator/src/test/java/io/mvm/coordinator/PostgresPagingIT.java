package io.mvm.coordinator;

import io.mvm.coordinator.testing.TestDatabase;

class PostgresPagingIT extends PagingContract {
    @Override
    TestDatabase.Kind kind() {
        return TestDatabase.Kind.POSTGRESQL;
    }
}
