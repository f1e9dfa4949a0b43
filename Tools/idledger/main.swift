print("idledger")
