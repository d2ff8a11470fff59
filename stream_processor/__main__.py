import sys

from stream_processor.cli import main

if __name__ == "__main__":
    sys.exit(main())
