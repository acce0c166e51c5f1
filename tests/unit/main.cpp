// The one Boost.Test module; every *_test.cpp adds a suite named after the file it tests.
#define BOOST_TEST_MODULE chittycharge_unit
#include <boost/test/unit_test.hpp>
