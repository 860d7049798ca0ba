"""The wire API, moesweep.v1: messages (*_pb2) and gRPC stubs (*_pb2_grpc).

Generated from proto/moesweep/v1/*.proto by python/regenerate.sh with Debian's
protoc and grpc_python_plugin, and checked in; tests/python/test_regenerate.py
fails when they drift from the protos. Do not edit them by hand.
"""
