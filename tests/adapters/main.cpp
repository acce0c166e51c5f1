// The adapter tests' Boost.Test module: real libraries against real local servers.
#define BOOST_TEST_MODULE chittycharge_adapters
#include <boost/test/unit_test.hpp>
