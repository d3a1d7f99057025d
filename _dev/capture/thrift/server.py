#!/usr/bin/python3
"""Calculator server for the thrift captures: server.py PORT socket|framed [nonstrict]."""
import sys
sys.path.insert(0, sys.argv[4] if len(sys.argv) > 4 else 'gen-py')
from calc import Calculator
from calc.ttypes import InvalidOperation, Operation, Sample
from thrift.transport import TSocket, TTransport
from thrift.protocol import TBinaryProtocol
from thrift.server import TServer


class Handler:
    def ping(self):
        pass

    def add(self, a, b):
        return a + b

    def calculate(self, logid, w):
        if w.op == Operation.ADD:
            return w.num1 + w.num2
        if w.op == Operation.SUBTRACT:
            return w.num1 - w.num2
        if w.op == Operation.MULTIPLY:
            return w.num1 * w.num2
        if w.num2 == 0:
            raise InvalidOperation(whatOp=w.op, why='Cannot divide by 0')
        return w.num1 // w.num2

    def echo(self, s):
        return s

    def roundtrip(self, s):
        return s

    def names(self, m, ids):
        return sorted(m.keys()) + [str(i) for i in sorted(ids)]

    def big(self, x, d, b, y):
        return x * 2

    def fail(self, why):
        # An undeclared exception: the server answers with a
        # TApplicationException (message type EXCEPTION).
        raise RuntimeError(why)

    def zip(self, n):
        pass


class Protocol(TBinaryProtocol.TBinaryProtocol):
    # python3-thrift 0.17 returns the method name of an unversioned
    # (non-strict) header as bytes and then fails writing the reply.
    def readMessageBegin(self):
        name, mtype, seqid = super().readMessageBegin()
        if isinstance(name, bytes):
            name = name.decode()
        return name, mtype, seqid


class ProtocolFactory(TBinaryProtocol.TBinaryProtocolFactory):
    def getProtocol(self, trans):
        return Protocol(trans, self.strictRead, self.strictWrite)


port, transport = int(sys.argv[1]), sys.argv[2]
strict = not (len(sys.argv) > 3 and sys.argv[3] == 'nonstrict')
proc = Calculator.Processor(Handler())
sock = TSocket.TServerSocket(host='127.0.0.1', port=port)
tf = TTransport.TFramedTransportFactory() if transport == 'framed' else TTransport.TBufferedTransportFactory()
pf = ProtocolFactory(strictRead=False, strictWrite=strict)
TServer.TSimpleServer(proc, sock, tf, pf).serve()
