"""Peer servers for rows 4-6: python-socketio's own AsyncServer, and a bare `websockets` floor."""
